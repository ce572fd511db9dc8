"""Calibration: read an order history, fit a baseline scenario to it, validate on held-out months."""
