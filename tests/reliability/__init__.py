"""Reliability and security tests (issue 6): no invented text, nothing lost, clear errors,
fuzzing, soak, device faults, and no one else in. The figures are in README.md here."""
