"""Evidence bundles: a reproducible archive of what a run judged, signed for auditors."""
