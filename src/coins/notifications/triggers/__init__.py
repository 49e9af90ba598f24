"""What each domain event means for notifications: who hears, what they read, where the link goes."""
