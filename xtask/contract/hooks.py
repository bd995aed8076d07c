"""schemathesis hooks for `cargo xtask contract` (loaded through
SCHEMATHESIS_HOOKS): the profile image's responses are validated too. An
image answer must be the image type its Content-Type names, read from its
first bytes as the server reads uploads; its bytes are then handed to the
schema check as a string of one character per byte, so `maxLength` (2 MiB)
is checked as well."""

import schemathesis

SIGNATURES = {
    "image/png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "image/webp": lambda b: len(b) >= 12 and b[:4] == b"RIFF" and b[8:12] == b"WEBP",
}


@schemathesis.deserializer(*SIGNATURES)
def image(ctx, response):
    named = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    is_it = SIGNATURES.get(named)
    if is_it is None or not is_it(response.content):
        raise ValueError(f"a {named} answer whose bytes are no {named} image ({len(response.content)} bytes)")
    return response.content.decode("latin-1")
