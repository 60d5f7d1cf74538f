"""Bill audit findings: lines that pay for nothing, or pay more than they would on another plan.

``rules`` finds them (reads only), ``services`` stores them and lets people set their status (each with its
audit row), ``selectors`` answers who may see which. Not to be confused with ``billing.audit``, the audit log.
"""
