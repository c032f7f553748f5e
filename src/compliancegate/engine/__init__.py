"""The engine: conditions compiled once, evaluation, waivers and the decision. Pure: no I/O."""
