"""Prefect flows of autoretrain: monitor -> retrain -> promote, plus rollback."""
