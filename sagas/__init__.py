"""Sagas: a trip booking that undoes its completed steps when a later step fails for good."""
