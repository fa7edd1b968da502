"""The dashboards' reads of the published snapshot: one module per page (`PAGE` names it).

Every public function takes the logged-in `viewer` first and refuses, with
`dashboards.access.AccessDenied`, a viewer whose role may not open its page — before
anything is read (tests/dashboards/test_access.py walks this package to prove it).
"""
