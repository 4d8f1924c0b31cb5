"""Secrets never reach a report."""

from __future__ import annotations

from envcheck.redact import is_secret_name, redact, secret_values


def test_credentials_in_urls_are_masked() -> None:
    text = "channel https://alice:s3cr3t@repo.example.com/conda and http://tok@host/x"
    out = redact(text)
    assert "s3cr3t" not in out and "alice" not in out and "tok@" not in out
    assert "https://***@repo.example.com/conda" in out


def test_conda_channel_tokens_are_masked() -> None:
    out = redact("https://conda.anaconda.org/t/ab-1234567890/my-channel/linux-64")
    assert out == "https://conda.anaconda.org/t/***/my-channel/linux-64"


def test_token_shapes_and_assignments_are_masked() -> None:
    out = redact("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123 and ghp_" + "a" * 36 + " api_key: 123456")
    assert "hf_abc" not in out and "ghp_" not in out and "123456" not in out


def test_literal_secret_values_from_the_environment_are_masked_anywhere() -> None:
    env = {"WANDB_API_KEY": "0123456789abcdef", "PATH": "/usr/bin", "MY_SECRET": "short"}
    secrets = secret_values(env)
    assert secrets == ("0123456789abcdef",)
    assert redact("key is 0123456789abcdef.", secrets=secrets) == "key is ***."


def test_home_becomes_tilde_only_as_a_path_prefix() -> None:
    out = redact("/home/ada/miniforge3 and /home/adam/x", home="/home/ada")
    assert out == "~/miniforge3 and /home/adam/x"


def test_secret_names() -> None:
    assert is_secret_name("HF_TOKEN") and is_secret_name("AWS_SECRET_ACCESS_KEY") and is_secret_name("PGPASSWORD")
    assert not is_secret_name("PATH") and not is_secret_name("CUDA_VISIBLE_DEVICES")
