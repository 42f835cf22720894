"""Change management: freeze windows, conflicts, approvals and rollback scope."""
