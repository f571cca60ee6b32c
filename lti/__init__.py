"""Everything that speaks LTI. pylti1p3 types never leave this package."""
