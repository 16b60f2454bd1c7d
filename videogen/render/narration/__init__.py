"""Narration engines behind one interface, and the chain that picks one."""

from videogen.render.narration.base import NarrationEngine, Speech, VoiceInfo
from videogen.render.narration.chain import Narration, NarrationChain

__all__ = ["NarrationEngine", "Speech", "VoiceInfo", "Narration", "NarrationChain"]
