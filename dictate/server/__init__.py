"""`dictate serve`: this machine's engine behind the OpenAI `/v1/audio/transcriptions` API.

Needs the optional extra `dictate[server]` (Starlette, uvicorn, python-multipart); nothing else
in dictate imports this package.
"""
