"""CodeRL (Le et al., NeurIPS 2022) in one place: the critic model that predicts a program's unit-test
outcome (:mod:`.critic_model`), its training module (:mod:`.critic`), the outcome labels it learns
from (:mod:`.labels`), the actor-critic RL module and its offline pool (:mod:`.module`), token-level
returns (:mod:`.returns`), Critic Sampling at inference (:mod:`.critic_sampling`) and the repair
model it uses (:mod:`.repair`). Importing this package loads none of them (labels stay torch-free)."""
