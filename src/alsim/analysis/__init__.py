"""Statistical analysis helpers shared by calibration, reports and virtual trials."""
