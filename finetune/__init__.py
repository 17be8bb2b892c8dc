"""Fine-tuning on the KB: instruction data, dialogue corpora, LoRA / P-tuning v2 training, merging, evaluation."""
