"""What people look at: the run report (and, later, the dashboard served by ``api``)."""
