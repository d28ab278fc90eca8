"""The ticket core (the ITSM): every channel feeds it.

Owns the database schema and its Alembic migrations, requesters, the catalogue (audiences,
applications, request types, criticality and severity tables), tickets with their priority,
history and N1/N2/N3 status workflow, the events journal from which every indicator is
computed, the audit log of personal-data access, and the business-time SLA clocks.
"""
