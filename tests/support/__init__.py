"""Helpers the tests share: the in-process API client, tokens, seeds, request builders."""
