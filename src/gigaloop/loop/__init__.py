"""The loop: KPIs, the daily decision cycle, and (only in ``loop.score``) scoring against truth."""
