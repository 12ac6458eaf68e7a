"""The Extended (Starknet perpetuals) front end of the simulated venue (see docs/SIM.md)."""
