"""Platform rules: registration and keys (admins), permalinks (platforms and managers), contexts.

Both front doors call these.  A platform only ever sees its own things: anything of another platform is
"not found" (404), never "forbidden", so a key cannot even learn what exists elsewhere.
"""
