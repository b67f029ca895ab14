"""Users' files: git repositories kept as bundles in the database (storage/git_bundles.py,
storage/user_files.py), restored into and saved from sessions' homes."""
