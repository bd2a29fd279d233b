"""Photonix benchmarks (issue 9): reproducible workloads against the product's own code and a real gunicorn.

`python -m bench` runs them; each workload is one module named in bench.workloads. Benchmarks measure
and report; they never change product state outside their own temporary folders.
"""
