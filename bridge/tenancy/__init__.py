"""Tenancy: organisation > registration > deployment > context > resource link; users and memberships."""
