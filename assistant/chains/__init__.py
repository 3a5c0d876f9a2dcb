"""Chains: one module per chain, a Chain protocol, and a registry fed by built-ins and plugins."""

from assistant.chains.base import Chain, ChainResult, ChainRun, NewArtifact, PromptChain
from assistant.chains.registry import ChainRegistry, default_chains

__all__ = ["Chain", "ChainRegistry", "ChainResult", "ChainRun", "NewArtifact", "PromptChain", "default_chains"]
