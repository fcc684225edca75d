"""Requests at the edge, one module per route family, each importing only what its function needs (a
Lambda function loads its own route's parsing and domain modules at cold start, not every route's).

`decode` turns a body or query string into its declared type (`edge.contract`) with the API's own 400s;
the route modules then check what types cannot say and build the domain's request values.
"""
