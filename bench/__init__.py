"""Benchmark tooling (issue #6): a fast DynamoDB-compatible engine and, later, the quantity-sync benchmark."""
