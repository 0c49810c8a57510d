"""A throwaway django-oauth-toolkit server for authbench's live integration test (run.sh)."""
