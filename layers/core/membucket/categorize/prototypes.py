"""Prototype texts for the default taxonomy: several phrasings per category, averaged into one vector.

A short label embeds poorly with a sentence model, so each category is described the way users
actually talk about it: one plain description plus first-person examples. Written for membucket;
tune them against ``tests/data/categories_labelled.jsonl`` (tune half only) with
``membucket bench categories``.
"""

from __future__ import annotations

from ..categories import DEFAULT_TAXONOMY

__all__ = ["PROTOTYPES"]

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "personal": (
        "Personal facts about me: my name, age, birthday, where I live, my family background.",
        "I was born in 1990 and grew up in a small town.",
        "My name is Sam and I live in an apartment downtown.",
        "I am left-handed and I speak three languages.",
    ),
    "relationships": (
        "People in my life: family members, partner, friends, colleagues and how we relate.",
        "My cousin lives abroad and we talk every Sunday.",
        "My wife and I have been married for ten years.",
        "My best friend from school is getting married.",
    ),
    "preferences": (
        "Things I like and dislike: favourite food, style, tastes and how I prefer things done.",
        "I prefer tea over coffee and I don't like sweet drinks.",
        "I like short, direct answers without emojis.",
        "My favourite colour is green and I hate crowded places.",
    ),
    "health": (
        "Health and medical information: illness, allergies, medication, doctors, fitness and diet.",
        "I'm allergic to shellfish and take antihistamines in spring.",
        "My doctor told me to lower my blood pressure.",
        "I go to the gym three times a week and sleep badly.",
    ),
    "travel": (
        "Travel plans and trips: flights, hotels, destinations, holidays and visas.",
        "I am flying to Tokyo next month and booked a hotel near the station.",
        "We spent our summer holiday on the coast of Portugal.",
        "I need a visa for the trip and must renew my ID card.",
    ),
    "work": (
        "My job and workplace: employer, role, colleagues, meetings, manager and career.",
        "I work as a product manager at a logistics company.",
        "My manager wants the quarterly report by Friday.",
        "I have a performance review and might get promoted.",
    ),
    "education": (
        "Learning and studies: school, university, courses, exams, degrees and homework.",
        "I am studying for a master's degree in history.",
        "I take an online course in Spanish and have an exam next week.",
        "My thesis is due at the end of the semester.",
    ),
    "projects": (
        "Projects I am building or running: plans, milestones, tasks, repositories and side projects.",
        "My side project is a mobile app for tracking plants; the beta ships in March.",
        "The migration project needs two more milestones before launch.",
        "I am renovating the kitchen as a weekend project.",
    ),
    "ai/ml & technology": (
        "Technology, software, programming, AI and machine learning, tools and frameworks.",
        "I fine-tune language models with PyTorch on a GPU.",
        "Our backend is written in Python and deployed with Docker and Kubernetes.",
        "I use embeddings and vector search for retrieval.",
    ),
    "technical support": (
        "Fixing technical problems: errors, bugs, crashes, setup and troubleshooting devices or software.",
        "My laptop won't connect to wifi after the update.",
        "The build fails with a permission denied error; how do I fix it?",
        "My scanner keeps jamming and the drivers won't install.",
    ),
    "finance": (
        "Money matters: salary, budget, bank accounts, savings, taxes, investments, bills and debt.",
        "I save 20 percent of my salary and invest in index funds.",
        "My rent is 1200 a month and I pay my taxes in April.",
        "I want to pay off my credit card debt.",
    ),
    "shopping": (
        "Buying things: purchases, orders, products to buy, stores, deals and wish lists.",
        "I ordered a new lamp online.",
        "I need to buy a birthday present and groceries this weekend.",
        "I'm looking for a good deal on a new laptop.",
    ),
    "legal": (
        "Legal matters: contracts, lawyers, rights, lawsuits, regulations, leases and official paperwork.",
        "My employer broke the contract and I talked to a lawyer.",
        "I need to sign the contract and check the non-compete clause.",
        "We are filing for a patent and reviewing GDPR compliance.",
    ),
    "entertainment": (
        "Entertainment and leisure: movies, TV series, music, books, games, concerts and hobbies.",
        "I'm watching a fantasy series and love sci-fi movies.",
        "I play video games on weekends and go to jazz concerts.",
        "My favourite band is touring this summer.",
    ),
    "messages": (
        "Messages and communication: emails, texts, chats, notes to send or replies to write.",
        "Remind me to email the landlord and reply to Tom's text.",
        "Draft a message to my team announcing the change.",
        "I got a voicemail from the dentist I need to answer.",
    ),
    "customer support": (
        "Dealing with a company's customer service: complaints, refunds, returns, tickets and support calls.",
        "I called the phone company's support line about a refund.",
        "I opened a ticket because my package never arrived.",
        "Customers keep asking our support team about shipping delays.",
    ),
    "product feedback": (
        "Feedback on a product or service: feature requests, reviews, what works and what should improve.",
        "The app's new dashboard is confusing; it should let me export to CSV.",
        "I'd love keyboard shortcuts in this tool.",
        "Users complained that onboarding takes too many steps.",
    ),
    "news": (
        "News and current events: headlines, politics, economy, world events and announcements.",
        "I read that unemployment dropped again this quarter.",
        "There was an election last week and the results surprised everyone.",
        "I follow news about climate policy and the economy.",
    ),
    "organization": (
        "Organizing life and time: schedules, calendar, routines, reminders, to-do lists and chores.",
        "I plan my week every Sunday evening and keep a to-do list.",
        "Put the vet appointment on my calendar for Tuesday at 3.",
        "I take out the trash on Thursdays and do laundry on Saturdays.",
    ),
    "goals": (
        "Goals and ambitions: what I want to achieve, resolutions, targets and plans for the future.",
        "My goal is to climb Kilimanjaro before I turn fifty.",
        "I want to learn to play the piano by the end of the year.",
        "This year I aim to read 30 books and save for a house.",
    ),
}

assert tuple(PROTOTYPES) == DEFAULT_TAXONOMY, "prototypes must cover the taxonomy, in order"
