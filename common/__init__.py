"""What every service shares: settings base, logging, health, tokens, messaging, event contracts."""
