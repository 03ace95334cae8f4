"""NeRF's positional encoding and Mip-NeRF's integrated encoding (PyTorch3D's ``HarmonicEmbedding``)."""

from __future__ import annotations

from typing import Optional

import torch


class HarmonicEmbedding(torch.nn.Module):
    """Maps each coordinate ``x_i`` to ``sin(f_k x_i)`` and ``cos(f_k x_i)`` for frequencies ``f_1 .. f_N``.

    The output's last dimension holds, in this order (PyTorch3D's layout)::

        sin(f_1 x_1) .. sin(f_N x_1), sin(f_1 x_2) .. sin(f_N x_D),
        cos(f_1 x_1) .. cos(f_N x_1), cos(f_1 x_2) .. cos(f_N x_D),
        x_1 .. x_D                                   # only with append_input

    Frequencies are ``omega_0 * 2**k`` for k = 0 .. N-1 (``logspace``), or ``omega_0`` times N values evenly spaced
    from 1 to ``2**(N-1)``. Given ``diag_cov`` (variances of Gaussians centred at ``x``, Mip-NeRF), each sine and
    cosine is damped by ``exp(-0.5 f_k**2 var_i)``, its expectation under the Gaussian.
    """

    def __init__(
        self,
        n_harmonic_functions: int = 6,
        omega_0: float = 1.0,
        logspace: bool = True,
        append_input: bool = True,
    ) -> None:
        """
        Args:
            n_harmonic_functions: N, the number of frequencies.
            omega_0: base frequency multiplying all of them.
            logspace: powers of two (True) or evenly spaced frequencies (False).
            append_input: append ``x`` itself after the sines and cosines.
        """
        super().__init__()
        if int(n_harmonic_functions) != n_harmonic_functions or n_harmonic_functions < 0:
            raise ValueError(f"HarmonicEmbedding: n_harmonic_functions must be an int >= 0, got {n_harmonic_functions}")
        n = int(n_harmonic_functions)
        if logspace:
            frequencies = 2.0 ** torch.arange(n, dtype=torch.float64)
        else:
            frequencies = torch.linspace(1.0, 2.0 ** (n - 1), n, dtype=torch.float64)
        # (N,) float32 like PyTorch3D's buffer; not saved in state dicts
        self.register_buffer("_frequencies", (frequencies * omega_0).float(), persistent=False)
        self.append_input = append_input

    def forward(self, x: torch.Tensor, diag_cov: Optional[torch.Tensor] = None, **kwargs) -> torch.Tensor:
        """
        Args:
            x: (..., D) coordinates.
            diag_cov: optional (..., D) variances of Gaussians centred at ``x``.
        Returns:
            (..., D * (2 N + int(append_input))) embedding (class docstring for the layout).
        """
        if not torch.is_tensor(x) or x.ndim < 1:
            raise ValueError(f"HarmonicEmbedding: x must be a tensor (..., D), got {getattr(x, 'shape', type(x))}")
        if diag_cov is not None and diag_cov.shape != x.shape:
            raise ValueError(
                f"HarmonicEmbedding: diag_cov {tuple(diag_cov.shape)} must have x's shape {tuple(x.shape)}"
            )
        frequencies = self._frequencies.to(x.dtype) if x.is_floating_point() else self._frequencies
        scaled = x[..., None] * frequencies  # (..., D, N)
        embed = torch.stack((scaled.sin(), scaled.cos()), dim=-3)  # (..., 2, D, N)
        if diag_cov is not None:
            damping = torch.exp(-0.5 * diag_cov[..., None] * frequencies**2)  # (..., D, N)
            embed = embed * damping[..., None, :, :]
        embed = embed.reshape(*x.shape[:-1], 2 * x.shape[-1] * frequencies.shape[0])  # (..., 2 D N); -1 fails when empty
        if self.append_input:
            return torch.cat((embed, x), dim=-1)
        return embed

    @staticmethod
    def get_output_dim_static(input_dims: int, n_harmonic_functions: int, append_input: bool) -> int:
        """Size of the last output dimension for inputs (..., input_dims)."""
        return input_dims * (2 * n_harmonic_functions + int(append_input))

    def get_output_dim(self, input_dims: int = 3) -> int:
        """Size of the last output dimension of this embedding for inputs (..., input_dims)."""
        return self.get_output_dim_static(input_dims, len(self._frequencies), self.append_input)
