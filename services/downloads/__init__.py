"""The download center: feeds fetched safely, their images saved into the gallery."""
