"""Online learning for trading models: EWC updates, a Sharpe stability gate, rollback."""
