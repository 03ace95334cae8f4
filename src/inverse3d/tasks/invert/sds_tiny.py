"""A tiny randomly initialised diffusers model folder, written without any download: for tests and for a smoke run
of ``inverse3d invert sds`` on a machine without real weights.

``write_tiny_model(folder)`` saves, with ``save_pretrained``, the layout ``load_sds_model`` reads from a Stable
Diffusion snapshot: ``unet/`` (a two-level ``UNet2DConditionModel`` with cross-attention), ``scheduler/`` (a
``DDPMScheduler`` with Stable Diffusion's scaled-linear betas), ``vae/`` (a two-level ``AutoencoderKL``; omitted with
``latent=False``, then the UNet works on RGB pixels), ``text_encoder/`` (a one-layer ``CLIPTextModel``) and
``tokenizer/`` (a ``CLIPTokenizer``'s vocab.json and merges.txt: the 256 byte symbols and one merge). Its outputs
mean nothing; it exercises the real loading and optimisation code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["write_tiny_model", "byte_vocabulary"]


MERGES = (("a", "p"),)
"""The tiny tokenizer's one BPE merge ("ap", so that merging is exercised too)."""


def byte_vocabulary() -> dict[str, int]:
    """A tiny CLIP vocabulary: the 256 byte symbols of byte-level BPE, each also as a word end ("</w>"), the start
    and end tokens, then the products of ``MERGES`` (515 entries)."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(ord("¡"), ord("¬") + 1)) | set(
        range(ord("®"), ord("ÿ") + 1))
    symbols, extra = [], 0
    for b in range(256):  # GPT-2's byte -> unicode table: printable bytes stand for themselves
        if b in printable:
            symbols.append(chr(b))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    words = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    words += [a + b for a, b in MERGES]
    return {w: i for i, w in enumerate(words)}


def _write_tokenizer(folder: Path, vocab: dict[str, int]) -> None:
    """The tokenizer in a Stable Diffusion snapshot's layout: vocab.json, merges.txt, tokenizer_config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "CLIPTokenizer", "model_max_length": 16, "do_lower_case": True, **special}))


def write_tiny_model(folder: str | os.PathLike, latent: bool = True, seed: int = 0, image_size: int = 32,
                     text: bool = True) -> Path:
    """Writes the tiny model into ``folder`` (created) and returns it.

    Args:
        latent: with a VAE (latent UNet, 4 channels at image_size / 2) or without (pixel UNet on 3 channels).
        seed: of the random weights.
        image_size: the pixel size the model "works at".
        text: with text_encoder/ and tokenizer/ (max 16 tokens, 16-dim embeddings).
    Raises:
        ValueError: diffusers or transformers is not installed (the ``sds`` extra).
    """
    from inverse3d.tasks.invert.sds import MISSING_EXTRA, _quiet_loading

    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:
        raise ValueError(f"{MISSING_EXTRA} ({err})") from None
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with _quiet_loading():
        return _write(out, latent, seed, image_size, text)


def _write(out: Path, latent: bool, seed: int, image_size: int, text: bool) -> Path:
    """The body of ``write_tiny_model``."""
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    dim = 16  # text embedding width = the UNet's cross-attention width
    channels = 4 if latent else 3
    unet = UNet2DConditionModel(
        sample_size=image_size // 2 if latent else image_size, in_channels=channels, out_channels=channels,
        layers_per_block=1, block_out_channels=(8, 16), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=dim, attention_head_dim=2,
        norm_num_groups=4)
    unet.save_pretrained(out / "unet")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                  beta_end=0.012).save_pretrained(out / "scheduler")
    components = {"unet": ["diffusers", "UNet2DConditionModel"], "scheduler": ["diffusers", "DDPMScheduler"]}
    if latent:
        AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                      up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
                      norm_num_groups=4, layers_per_block=1, sample_size=image_size).save_pretrained(out / "vae")
        components["vae"] = ["diffusers", "AutoencoderKL"]
    if text:
        vocab = byte_vocabulary()
        config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=dim, intermediate_size=2 * dim,
                                num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16,
                                projection_dim=dim, pad_token_id=vocab["<|endoftext|>"],
                                bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"])
        CLIPTextModel(config).save_pretrained(out / "text_encoder")
        _write_tokenizer(out / "tokenizer", vocab)
        components.update(text_encoder=["transformers", "CLIPTextModel"], tokenizer=["transformers", "CLIPTokenizer"])
    index = {"_class_name": "StableDiffusionPipeline", **components}
    (out / "model_index.json").write_text(json.dumps(index, indent=2))
    return out
