"""The Deep wire details that the client (``sources``), the server and the model share.

- ``keys``: the gRPC metadata keys confighub reads and sends (the long poll, authorization);
- ``anyvalue``: the one codec between Python values and deep-proto's ``AnyValue``;
- ``credentials``: the one parser and checker of bearer tokens, basic credentials and TLS pairs.

Modules here import nothing of confighub but ``exceptions``.
"""
