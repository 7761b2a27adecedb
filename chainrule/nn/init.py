"""Weight initialisation schemes (``chainrule.nn.init``), with PyTorch's names and formulas."""
