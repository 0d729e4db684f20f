"""Mutation testing for the money-critical modules (issue 16); run with `make mutation`."""
