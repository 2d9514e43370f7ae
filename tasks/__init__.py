"""The work behind the flows. Pure decision logic (config, windows, policy, gate, metrics)
imports nothing from Prefect; the task modules wrap I/O as Prefect tasks."""
