"""Portuguese support messages shared by the benchmarks, so they measure the same texts."""

PHRASES = [
    "Meu boleto venceu, ainda consigo pagar sem multa?",
    "O aplicativo fecha sozinho quando tento abrir a fatura",
    "Quanto custa o plano anual para uma empresa pequena?",
    "Quero cancelar minha assinatura a partir do mês que vem",
    "Qual o horário de atendimento de vocês no sábado?",
    "Fui cobrado duas vezes no cartão de crédito",
    "Não recebi o código de confirmação por SMS",
    "Vocês entregam no interior de Minas Gerais?",
]
