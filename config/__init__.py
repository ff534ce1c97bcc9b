"""Settings: the YAML file, the environment, and the team map built from them."""
