"""The torch device a job trains on (its ``device`` field)."""

from __future__ import annotations

from trainer.errors import JobFailed

__all__ = ["select_device"]


def select_device(choice: str):
    """The device for ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    choice : str
        ``"auto"`` takes CUDA when a GPU is available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    JobFailed
        If ``"cuda"`` was asked for and no CUDA GPU is available.
    """
    import torch

    if choice == "cuda":
        if not torch.cuda.is_available():
            raise JobFailed("device 'cuda' was asked for but no CUDA GPU is available; use \"auto\" "
                            "or \"cpu\"")
        return torch.device("cuda")
    if choice == "auto" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
