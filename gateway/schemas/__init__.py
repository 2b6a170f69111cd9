"""Request and response models of the REST API (pydantic): what the OpenAPI document shows.

One module per part of the API: `messages`, `operators`, `access`, `analytics`. Services
read and return them too, so they sit below both the services and the HTTP layer.
"""
