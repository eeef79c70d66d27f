"""Schemathesis hooks for CI's fuzzing step (`SCHEMATHESIS_HOOKS=tests.schemathesis_hooks`).

`POST /v1/import` takes NDJSON, a media type Schemathesis has no serializer for; its body is
documented as a string, so it is sent as text.
"""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
