"""Built-in svcdoctor plugins, one module per check family.

Each module is registered through the ``svcdoctor`` entry-point group (see pyproject.toml),
exactly as a third-party plugin would be; nothing in the core imports these by name.
"""
