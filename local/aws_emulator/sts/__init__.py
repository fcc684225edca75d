"""STS where moto falls short: identity-aware AssumeRole, trust policies, callers the emulator knows."""
