"""Challenge bundles: the YAML schema, checking a folder, loading it, unpacking an uploaded zip."""
