"""Email below the domains: recording messages (`mailer`), delivering them over SMTP (`delivery`), the jobs."""
