"""Narration engines behind one interface, and the chain that picks one."""

from .base import NarrationEngine, Speech, VoiceInfo
from .chain import Narration, NarrationChain

__all__ = ["NarrationEngine", "Speech", "VoiceInfo", "Narration", "NarrationChain"]
