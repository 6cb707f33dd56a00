"""The public surface: ``gigaloop.__all__`` is sorted and lists exactly the public names."""

import gigaloop


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in vars(gigaloop) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(gigaloop, name)).__name__ == "module"}
    assert gigaloop.__all__ == sorted(gigaloop.__all__)
    assert set(gigaloop.__all__) - {"__version__"} == public - modules
