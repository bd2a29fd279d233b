"""HTTP layer: parse the request, call one service, serialize. No queries, no business rules."""
