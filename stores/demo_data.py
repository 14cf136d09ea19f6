"""The static tables behind ``manage.py seed_demo``: the six pilot cities, their stores and
partner warehouses, brands, the category tree, the product lines and the loose fresh food.

Only data lives here; ``stores.demo_seed`` turns it into rows. The long tables are text, one
row per line with ``|`` between fields, so they read like a shelf plan and stay short:

* ``PRODUCT_LINES`` — ``category | brand | size=price; size=price`` then, indented, the
  brand's product lines (or flavours) on that shelf: ``Pure Milk; Satine Organic Milk @160``.
  ``@160`` prices a line at 160 % of the row's prices (an integer percent: no floats near
  money). An indented item with ``=`` is one more size, for rows too long for one line.
  Every line comes in every size, named brand + line + size ("Yili Pure Milk 250ml x 24").
* ``WEIGHED`` — a category, then indented ``name=price per kg in fen`` items.

SKUs and item references are numbered in table order: append rows at the end (or reseed an
empty database) so a reseed of an existing database keeps every SKU on the same product.
"""

from __future__ import annotations

SEED = 20260808

# code, name, name_zh, centre latitude, centre longitude, location code prefix
CITIES = (
    ("beijing", "Beijing", "北京", "39.904200", "116.407400", "BJ"),
    ("shanghai", "Shanghai", "上海", "31.230400", "121.473700", "SH"),
    ("guangzhou", "Guangzhou", "广州", "23.129100", "113.264400", "GZ"),
    ("shenzhen", "Shenzhen", "深圳", "22.543100", "114.057900", "SZ"),
    ("chengdu", "Chengdu", "成都", "30.572800", "104.066800", "CD"),
    ("wuhan", "Wuhan", "武汉", "30.592800", "114.305500", "WH"),
)

# code | name | address | latitude, longitude | local opening hours | features, where the
# features are "pickup" (a pick-up station), "scan" (scan & go) and "closed" (inactive).
# Hours past midnight close before they open (SH008, 08:00-02:00); equal hours mean open
# around the clock (SH005, the flagship the demo journey uses). Deliberate oddities for
# tests: BJ008 is closed, GZ006 is open but has scan & go off.
STORES = """
BJ001 | Guomao | 88 Jianguo Rd, Chaoyang District | 39.9087, 116.4605 | 07:00-22:00 | pickup scan
BJ002 | Wangjing | 6 Futong East Ave, Chaoyang District | 39.9964, 116.4703 | 07:00-22:00 | pickup scan
BJ003 | Zhongguancun | 27 Zhongguancun St, Haidian District | 39.9834, 116.316 | 07:30-22:30 | scan
BJ004 | Wudaokou | 1 Chengfu Rd, Haidian District | 39.9926, 116.3378 | 07:00-22:00 | pickup scan
BJ005 | Xidan | 120 Xidan North St, Xicheng District | 39.911, 116.374 | 08:00-22:00 | pickup scan
BJ006 | Dongzhimen | 8 Dongzhimen Outer St, Dongcheng District | 39.9416, 116.4349 | 07:00-22:00 | scan
BJ007 | Tongzhou | 58 Xinhua West St, Tongzhou District | 39.9097, 116.657 | 07:00-22:00 | pickup scan
BJ008 | Huilongguan | 12 Huilongguan West Ave, Changping District | 40.075, 116.33 | 07:00-22:00 | pickup scan closed
SH001 | Lujiazui | 168 Lujiazui Ring Rd, Pudong New Area | 31.2397, 121.4998 | 07:00-22:00 | pickup scan
SH002 | Zhangjiang | 2288 Zuchongzhi Rd, Pudong New Area | 31.204, 121.59 | 07:00-22:00 | pickup scan
SH003 | Xujiahui | 1111 Zhaojiabang Rd, Xuhui District | 31.195, 121.437 | 07:30-22:30 | pickup scan
SH004 | Jing'an Temple | 1618 Nanjing West Rd, Jing'an District | 31.229, 121.448 | 08:00-22:00 | scan
SH005 | People's Square | 100 Xizang Middle Rd, Huangpu District | 31.2323, 121.475 | 00:00-00:00 | scan
SH006 | Zhongshan Park | 1018 Changning Rd, Changning District | 31.22, 121.416 | 07:00-22:00 | pickup scan
SH007 | Wujiaochang | 500 Songhu Rd, Yangpu District | 31.3, 121.514 | 07:00-22:00 | pickup scan
SH008 | Xinzhuang | 1588 Humin Rd, Minhang District | 31.112, 121.385 | 08:00-02:00 | pickup scan
GZ001 | Zhujiang New Town | 85 Huacheng Ave, Tianhe District | 23.12, 113.325 | 07:00-22:00 | pickup scan
GZ002 | Tianhe Sports Centre | 299 Tianhe Rd, Tianhe District | 23.1375, 113.3245 | 07:00-22:30 | scan
GZ003 | Beijing Road | 218 Beijing Rd, Yuexiu District | 23.125, 113.269 | 08:00-22:00 | pickup scan
GZ004 | Jiangnan West | 36 Jiangnan Ave Middle, Haizhu District | 23.096, 113.274 | 07:00-22:00 | pickup scan
GZ005 | Shangxiajiu | 66 Dishipu Rd, Liwan District | 23.117, 113.245 | 07:00-22:00 | scan
GZ006 | Shiqiao | 380 Qiaoxing Ave, Panyu District | 22.938, 113.384 | 07:00-22:00 | pickup
SZ001 | Huaqiangbei | 1019 Huaqiang North Rd, Futian District | 22.543, 114.085 | 07:00-22:00 | pickup scan
SZ002 | Futian CBD | 6008 Shennan Ave, Futian District | 22.536, 114.056 | 07:30-22:30 | scan
SZ003 | Dongmen | 3008 Shennan East Rd, Luohu District | 22.548, 114.12 | 07:00-22:00 | pickup scan
SZ004 | Science Park | 9668 Shennan Ave, Nanshan District | 22.54, 113.95 | 07:00-22:00 | pickup scan
SZ005 | Shekou | 1 Wanghai Rd, Nanshan District | 22.486, 113.912 | 08:00-22:00 | scan
SZ006 | Bao'an Centre | 28 Chuangye 1st Rd, Bao'an District | 22.555, 113.883 | 07:00-22:00 | pickup scan
SZ007 | Longhua | 339 Renmin Rd, Longhua District | 22.657, 114.044 | 07:00-22:00 | pickup scan
CD001 | Chunxi Road | 99 Zongfu Rd, Jinjiang District | 30.658, 104.08 | 08:00-22:30 | pickup scan
CD002 | Kehua Road | 159 Kehua North Rd, Wuhou District | 30.634, 104.075 | 07:00-22:00 | pickup scan
CD003 | Kuanzhai Alley | 36 Changshun Upper St, Qingyang District | 30.67, 104.053 | 08:00-22:00 | scan
CD004 | Jianshe Road | 55 Jianshe Rd, Chenghua District | 30.671, 104.105 | 07:00-22:00 | pickup scan
CD005 | Tianfu Software Park | 1700 Tianfu Ave North, Hi-tech Zone | 30.545, 104.065 | 07:00-22:00 | scan
CD006 | Yipin Tianxia | 99 Yipin Tianxia St, Jinniu District | 30.699, 104.027 | 07:00-22:00 | pickup scan
WH001 | Jianghan Road | 148 Jianghan Rd, Jianghan District | 30.58, 114.293 | 08:00-22:00 | pickup scan
WH002 | Zhongnan Road | 9 Zhongnan Rd, Wuchang District | 30.538, 114.335 | 07:00-22:00 | pickup scan
WH003 | Optics Valley | 766 Luoyu Rd, Hongshan District | 30.505, 114.4 | 07:00-22:00 | pickup scan
WH004 | Jiefang Avenue | 1511 Jiefang Ave, Jiang'an District | 30.6, 114.31 | 07:00-22:00 | scan
WH005 | Wangjiawan | 37 Longyang Ave, Hanyang District | 30.558, 114.213 | 07:00-22:00 | pickup scan
WH006 | Qiaokou | 238 Zhongshan Ave, Qiaokou District | 30.57, 114.265 | 07:30-22:30 | pickup scan
"""

# Partner warehouses (at least one per city): code | name | address | lat, lng | hours.
WAREHOUSES = """
BJ-WH1 | Yizhuang | 9 Kechuang 6th St, Daxing District | 39.795, 116.506 | 05:00-23:00
BJ-WH2 | Shunyi | 15 Tianzhu Rd, Shunyi District | 40.07, 116.59 | 05:00-23:00
SH-WH1 | Jiading | 1 Huajiang Rd, Jiading District | 31.375, 121.265 | 05:00-23:00
SH-WH2 | Kangqiao | 1000 Kangqiao East Rd, Pudong New Area | 31.15, 121.575 | 05:00-23:00
GZ-WH1 | Huadu | 18 Fengshen Ave, Huadu District | 23.404, 113.22 | 05:00-23:00
SZ-WH1 | Pinghu | 28 Huanan Ave, Longgang District | 22.68, 114.13 | 05:00-23:00
CD-WH1 | Shuangliu | 18 Konggang 4th Rd, Shuangliu District | 30.56, 103.95 | 05:00-23:00
WH-WH1 | Dongxihu | 8 Lingkong Rd, Dongxihu District | 30.69, 114.13 | 05:00-23:00
"""

# slug, name, name_zh, parent slug. Products hang off the leaves.
CATEGORIES = (
    ("dairy", "Dairy", "乳品", None),
    ("milk", "Milk", "牛奶", "dairy"),
    ("yogurt", "Yogurt", "酸奶", "dairy"),
    ("cheese", "Cheese", "奶酪", "dairy"),
    ("beverages", "Beverages", "饮料酒水", None),
    ("water", "Water", "饮用水", "beverages"),
    ("tea-drinks", "Tea drinks", "茶饮料", "beverages"),
    ("soft-drinks", "Soft drinks", "碳酸饮料", "beverages"),
    ("functional-drinks", "Functional drinks", "功能饮料", "beverages"),
    ("juice", "Juice", "果汁", "beverages"),
    ("coffee", "Coffee", "咖啡", "beverages"),
    ("beer", "Beer", "啤酒", "beverages"),
    ("spirits", "Spirits", "白酒", "beverages"),
    ("wine", "Wine", "葡萄酒", "beverages"),
    ("snacks", "Snacks", "休闲零食", None),
    ("nuts", "Nuts & dried fruit", "坚果果干", "snacks"),
    ("biscuits", "Biscuits", "饼干", "snacks"),
    ("chips", "Chips & puffs", "膨化食品", "snacks"),
    ("confectionery", "Chocolate & candy", "糖果巧克力", "snacks"),
    ("grain-oil", "Grain & Oil", "粮油", None),
    ("rice", "Rice", "大米", "grain-oil"),
    ("grains", "Beans & grains", "杂粮", "grain-oil"),
    ("flour-noodles", "Flour & noodles", "面粉挂面", "grain-oil"),
    ("cooking-oil", "Cooking oil", "食用油", "grain-oil"),
    ("condiments", "Condiments", "调味品", None),
    ("soy-sauce", "Soy sauce", "酱油", "condiments"),
    ("vinegar", "Vinegar", "醋", "condiments"),
    ("sauces", "Sauces & seasonings", "酱料调料", "condiments"),
    ("instant-food", "Instant food", "方便速食", None),
    ("instant-noodles", "Instant noodles", "方便面", "instant-food"),
    ("ready-meals", "Self-heating meals", "自热速食", "instant-food"),
    ("frozen", "Frozen", "冷冻食品", None),
    ("dumplings", "Dumplings & hot pot", "速冻水饺火锅料", "frozen"),
    ("ice-cream", "Ice cream", "冰淇淋", "frozen"),
    ("personal-care", "Personal care", "个人护理", None),
    ("hair-care", "Hair care", "洗发护发", "personal-care"),
    ("oral-care", "Oral care", "口腔护理", "personal-care"),
    ("body-care", "Body care", "沐浴护肤", "personal-care"),
    ("household", "Household", "家居清洁", None),
    ("paper", "Tissue & paper", "纸品", "household"),
    ("laundry", "Laundry", "洗衣用品", "household"),
    ("cleaning", "Cleaning", "清洁剂", "household"),
    ("baby", "Baby", "母婴", None),
    ("formula", "Infant formula", "婴幼儿奶粉", "baby"),
    ("diapers", "Diapers", "纸尿裤", "baby"),
    ("pets", "Pets", "宠物", None),
    ("pet-food", "Pet food", "宠物食品", "pets"),
    ("fresh", "Fresh", "生鲜", None),
    ("fruit", "Fruit", "水果", "fresh"),
    ("vegetables", "Vegetables", "蔬菜", "fresh"),
    ("meat", "Meat", "肉类", "fresh"),
    ("seafood", "Seafood", "水产", "fresh"),
    ("eggs", "Eggs", "蛋类", "fresh"),
    ("bakery", "Bakery", "烘焙", None),
    ("bread", "Bread", "面包", "bakery"),
    ("pastries", "Cakes & pastries", "糕点", "bakery"),
)

# Alcohol: staff check age at the exit. No tobacco in the demo assortment.
AGE_RESTRICTED_CATEGORIES = frozenset({"beer", "spirits", "wine"})

# name, name_zh. (Arawana is 金龙鱼, "Jinlongyu"; Hengan sells its tissues as 心相印.)
# Imported brands carry UPC-A codes (prefix 0) instead of a Chinese (690-699) EAN-13.
BRANDS = (
    ("Yili", "伊利"), ("Mengniu", "蒙牛"), ("Bright", "光明"), ("Junlebao", "君乐宝"), ("Sanyuan", "三元"),
    ("New Hope", "新希望"), ("Milkground", "妙可蓝多"), ("Nongfu Spring", "农夫山泉"), ("C'estbon", "怡宝"),
    ("Wahaha", "娃哈哈"), ("Ganten", "景田"), ("Master Kong", "康师傅"), ("Uni-President", "统一"),
    ("Suntory", "三得利"), ("Coca-Cola", "可口可乐"), ("Sprite", "雪碧"), ("Fanta", "芬达"), ("Pepsi", "百事可乐"),
    ("Genki Forest", "元气森林"), ("Jianlibao", "健力宝"), ("Wong Lo Kat", "王老吉"), ("Vita", "维他"),
    ("Red Bull", "红牛"), ("Eastroc", "东鹏"), ("Coconut Palm", "椰树"), ("Huiyuan", "汇源"), ("Welch's", "韦尔奇"),
    ("Ocean Spray", "优鲜沛"), ("Nestle", "雀巢"), ("Starbucks", "星巴克"), ("Saturnbird", "三顿半"),
    ("Tsingtao", "青岛啤酒"), ("Snow", "雪花"), ("Budweiser", "百威"), ("Harbin", "哈尔滨啤酒"), ("Yanjing", "燕京"),
    ("Moutai", "茅台"), ("Wuliangye", "五粮液"), ("Luzhou Laojiao", "泸州老窖"), ("Fenjiu", "汾酒"), ("Yanghe", "洋河"),
    ("Niulanshan", "牛栏山"), ("Red Star", "红星"), ("Jiangxiaobai", "江小白"), ("Changyu", "张裕"),
    ("Great Wall", "长城"), ("Three Squirrels", "三只松鼠"), ("Bestore", "良品铺子"), ("Qiaqia", "洽洽"),
    ("Blue Diamond", "蓝钻石"), ("Oreo", "奥利奥"), ("Want Want", "旺旺"), ("Glico", "格力高"), ("Garden", "嘉顿"),
    ("Lay's", "乐事"), ("Oishi", "上好佳"), ("Weilong", "卫龙"), ("Dove", "德芙"), ("Hershey's", "好时"),
    ("Alpenliebe", "阿尔卑斯"), ("White Rabbit", "大白兔"), ("Snickers", "士力架"), ("Extra", "益达"),
    ("Arawana", "金龙鱼"), ("Fortune", "福临门"), ("Shiyue Daotian", "十月稻田"), ("Luhua", "鲁花"),
    ("Xiangxue", "香雪"), ("Chen Keming", "陈克明"), ("Jinshahe", "金沙河"), ("Haitian", "海天"),
    ("Lee Kum Kee", "李锦记"), ("Chubang", "厨邦"), ("Qianhe", "千禾"), ("Hengshun", "恒顺"), ("Donghu", "东湖"),
    ("Lao Gan Ma", "老干妈"), ("Juancheng", "鹃城"), ("Totole", "太太乐"), ("Haidilao", "海底捞"),
    ("Skippy", "四季宝"), ("Baixiang", "白象"), ("Nissin", "日清"), ("Akuan", "阿宽"), ("Synear", "思念"),
    ("Wanchai Ferry", "湾仔码头"), ("Sanquan", "三全"), ("Anjoy", "安井"), ("Zhong Xue Gao", "钟薛高"),
    ("Clear", "清扬"), ("Head & Shoulders", "海飞丝"), ("Pantene", "潘婷"), ("Rejoice", "飘柔"), ("Lux", "力士"),
    ("Adolph", "阿道夫"), ("Colgate", "高露洁"), ("Darlie", "好来"), ("Crest", "佳洁士"),
    ("Yunnan Baiyao", "云南白药"), ("Oral-B", "欧乐B"), ("Safeguard", "舒肤佳"), ("Olay", "玉兰油"),
    ("Mentholatum", "曼秀雷敦"), ("Vinda", "维达"), ("Hengan", "心相印"), ("Breeze", "清风"), ("C&S", "洁柔"),
    ("Blue Moon", "蓝月亮"), ("Liby", "立白"), ("Tide", "汰渍"), ("OMO", "奥妙"), ("Mr Muscle", "威猛先生"),
    ("Walch", "威露士"), ("Feihe", "飞鹤"), ("Pampers", "帮宝适"), ("Huggies", "好奇"), ("Royal Canin", "皇家"),
    ("Myfoodie", "麦富迪"), ("Deqingyuan", "德青源"), ("Shuanghui", "双汇"), ("Fengxiang", "凤祥"),
    ("Yurun", "雨润"), ("Guolian", "国联"), ("Joyvio", "佳沃"), ("Toly", "桃李"), ("Mankattan", "曼可顿"),
    ("Daoxiangcun", "稻香村"), ("Orion", "好丽友"), ("Dali Garden", "达利园"), ("Daily Fresh", "每日鲜"),
    ("Quaker", "桂格"), ("McCormick", "味好美"), ("Mo Xiaoxian", "莫小仙"),
)  # fmt: skip
IMPORTED_BRANDS = frozenset({"Welch's", "Ocean Spray", "Blue Diamond", "Hershey's", "Skippy"})
HOUSE_BRAND = "Daily Fresh"  # the retailer's own label: loose fresh food and in-store bakery

# category | brand | sizes, then the indented product lines (see the module docstring).
PRODUCT_LINES = """
milk | Yili | 250ml=350; 250ml x 12=3990; 250ml x 24=6990; 1L=1190
    Pure Milk; Low-Fat Milk; High-Calcium Milk; Satine Organic Milk @160; QQ Star Kids Milk @130
milk | Mengniu | 250ml=350; 250ml x 12=3990; 250ml x 24=6990; 1L=1190
    Pure Milk; Low-Fat Milk; Deluxe Pure Milk @160; Deluxe Organic Milk @190; Future Star Kids Milk @130
milk | Junlebao | 250ml=330; 250ml x 12=3690; 250ml x 24=6490; 1L=1090
    Pure Milk; Yuexian Fresh Milk @140
milk | Bright | 450ml=890; 950ml=1590; 1.8L=2690
    Fresh Pasteurised Milk; Youbei Fresh Milk @130; Low-Fat Fresh Milk
milk | Sanyuan | 450ml=790; 950ml=1490; 1.8L=2490
    Fresh Milk; Jixiangyuan Organic Milk @150; Low-Fat Milk
milk | New Hope | 255ml=690; 450ml=990; 950ml=1790
    24h Fresh Milk @120; Fresh Milk; Golden Pasture Milk
milk | Want Want | 145ml=350; 245ml=550; 145ml x 20=6990; 245ml x 12=5990
    Hot-Kid Milk Original; Hot-Kid Milk Chocolate @110
yogurt | Yili | 205g=650; 205g x 10=5990; 205g x 12=6590; 1kg family tub=1990
    Ambrosial Greek Yogurt; Ambrosial Blueberry; Ambrosial Peach & Oat; Changqing Plain; Changqing Low-Sugar
yogurt | Mengniu | 200g=620; 200g x 10=5690; 200g x 12=6290; 1kg family tub=1990
    Chunzhen Plain; Chunzhen Strawberry; Chunzhen Mango; Guanyiru Probiotic; Yoyi C Drink @60
yogurt | Bright | 200g=680; 200g x 6=3590; 200g x 12=6290
    Momchilovtsi Original; Momchilovtsi Strawberry & Oat; Momchilovtsi Low-Sugar; Set Yogurt @80
yogurt | Junlebao | 200g=590; 200g x 12=5890
    Jianchun Plain; Jianchun Blueberry; Simplelove Zero Sugar @120
cheese | Milkground | 100g=1990; 200g=3590; 500g=7990
    Cheese Sticks Original; Cheese Sticks Strawberry; Mozzarella Shredded @150; Sliced Cheddar @120
water | Nongfu Spring | 550ml=200; 550ml x 24=3990; 1.5L=350; 4L=890; 5L=990
    Natural Water; Natural Mineral Water @200; Baby Water @250
water | C'estbon | 555ml=200; 555ml x 24=3890; 1.555L=350; 4.5L=890
    Purified Water; Jiajiabao Mineral Water @150
water | Wahaha | 596ml=190; 596ml x 24=3590; 1.5L=350; 4.5L=850
    Purified Water; Mineral Water @130
water | Master Kong | 550ml=150; 550ml x 24=2990; 1.5L=300
    Drinking Water
water | Ganten | 560ml=200; 560ml x 24=3790; 4.6L=890
    Purified Water; Rock Mineral Water @160
tea-drinks | Master Kong | 500ml=300; 500ml x 6=1690; 500ml x 15=3990; 1L=500; 2L=790; 1.5L=690
    Iced Black Tea; Green Tea; Jasmine Tea; Honey Citron Tea; Lemon Iced Tea
tea-drinks | Uni-President | 500ml=300; 500ml x 6=1690; 500ml x 15=3990; 1L=500; 2L=790; 1.5L=690
    Green Tea; Iced Black Tea; Assam Milk Tea @140; Xiaoming Tongxue Cold Brew Tea @120
tea-drinks | Nongfu Spring | 500ml=500; 500ml x 6=2790; 500ml x 15=6590; 900ml=790; 1.5L=1090
    Oriental Leaf Jasmine; Oriental Leaf Oolong; Oriental Leaf Green Tea; Tea Pi Grapefruit Green Tea @90;
    Tea Pi Lemon Black Tea @90
tea-drinks | Suntory | 500ml=450; 500ml x 15=5990; 1.25L=890
    Oolong Tea; Low-Sugar Oolong Tea
tea-drinks | Vita | 250ml=350; 250ml x 6=1890; 250ml x 24=6990
    Lemon Tea; Chrysanthemum Tea; Soy Milk
tea-drinks | Wong Lo Kat | 310ml can=350; 310ml x 12=3890; 310ml x 24=6990
    Herbal Tea; Low-Sugar Herbal Tea
tea-drinks | Wahaha | 500ml=300; 500ml x 6=1690; 500ml x 15=3990; 1L=500; 2L=790
    Iced Black Tea; Green Tea; AD Calcium Milk Drink @60; Nutri-Express @120
soft-drinks | Coca-Cola | 330ml can=300; 330ml x 24 cans=5990; 500ml=350; 1.25L=550; 2L=750; 330ml x 6 cans=1690
    Classic; Zero Sugar; Light; Vanilla
soft-drinks | Sprite | 330ml can=300; 330ml x 24 cans=5990; 500ml=350; 1.25L=550; 2L=750; 330ml x 6 cans=1690
    Lemon-Lime; Zero Sugar; Fiber+ @130
soft-drinks | Fanta | 330ml can=300; 330ml x 24 cans=5990; 500ml=350; 2L=750; 330ml x 6 cans=1690
    Orange; Grape; Apple
soft-drinks | Pepsi | 330ml can=300; 330ml x 24 cans=5690; 500ml=350; 1.25L=550; 2L=750; 330ml x 6 cans=1690
    Cola; Max Zero Sugar; Lime Cola; Cherry Cola
soft-drinks | Genki Forest | 330ml can=450; 480ml=550; 480ml x 15=6990
    Sparkling Water White Peach; Sparkling Water Lime; Sparkling Water Grape; Sparkling Water Lychee;
    Sparkling Water Cola; Sparkling Water Yuzu
soft-drinks | Jianlibao | 330ml can=300; 330ml x 24 cans=5490; 560ml=400
    Orange Honey Soda; Lemon Soda
functional-drinks | Red Bull | 250ml can=600; 250ml x 6=3490; 250ml x 24=12990
    Energy Drink; Sugar-Free Energy Drink @110
functional-drinks | Eastroc | 250ml=350; 500ml=500; 500ml x 24=10990
    Energy Drink; Electrolyte Water @80
functional-drinks | Nongfu Spring | 550ml=500; 550ml x 15=6990
    Scream Energy Drink Citrus; Scream Energy Drink Berry; Water Soluble C100 Lemon @110
functional-drinks | Coconut Palm | 245ml can=450; 245ml x 24=9600; 1L=1290
    Coconut Juice
juice | Huiyuan | 200ml x 12=3990; 1L=1290; 2L=2190; 1L x 6=6990
    100% Orange Juice; 100% Apple Juice; 100% Peach Juice; 100% Grape Juice; Fruit & Vegetable Juice
juice | Nongfu Spring | 300ml=790; 900ml=1990; 300ml x 12=8990
    NFC Orange Juice; NFC Apple Juice; NFC Mango & Apple Juice
juice | Master Kong | 500ml=350; 1L=590; 2L=990; 500ml x 15=4590
    Fresh Orange Drink; Sea Buckthorn Drink; Iced Pear Drink
juice | Welch's | 1.36L=4590; 300ml=1290
    100% Grape Juice; 100% White Grape Juice; 100% Cranberry Grape Juice
juice | Ocean Spray | 1.89L=4990; 1L=2990
    Cranberry Juice Drink; Cranberry Light @110
coffee | Nestle | 15 sticks=2990; 30 sticks=4990; 100 sticks=12990; 7 sticks=1590
    Instant Coffee 1+2 Original; Instant Coffee 1+2 Milky; Gold Blend Black Coffee @220
coffee | Nestle | 268ml=600; 268ml x 15=7990
    Silky Latte; Silky Mocha; Silky Caramel Macchiato
coffee | Starbucks | 281ml=990; 281ml x 6=5490
    Frappuccino Mocha; Frappuccino Vanilla; Doubleshot Espresso @110
coffee | Saturnbird | 8 capsules=6900; 24 capsules=19900
    No.1 Light Roast; No.2 Medium Roast; No.3 Dark Roast; No.0 Decaf @110
beer | Tsingtao
    330ml can=450; 500ml can=600; 640ml bottle=790; 500ml can x 12=6990; 330ml can x 24=8990; 330ml can x 6=2590
    Classic Lager; Pure Draft; Stout; Wheat White; Augerta @120; 1903 Lager @130
beer | Snow | 330ml can=350; 500ml can=500; 500ml can x 12=5690; 330ml can x 24=7490; 330ml can x 6=1990
    Brave the World; Draft Beer; Pure Life; Marrs Green @250; Heritage Lager @180
beer | Budweiser | 330ml can=500; 500ml can=650; 500ml can x 12=7490; 330ml can x 24=9990; 330ml can x 6=2790
    Lager; Magnum @160; Supreme @140
beer | Harbin | 330ml can=350; 500ml can=450; 500ml can x 12=4990; 330ml can x 24=6990; 330ml can x 6=1990
    Ice Pure; Classic Gold @120
beer | Yanjing | 330ml can=350; 500ml can=450; 500ml can x 12=4990; 330ml can x 6=1990
    Lager; U8 Light Draft @130; Beiqing @120
spirits | Moutai | 500ml=149900; 375ml=116900; 200ml=64900; 50ml=19900
    Feitian 53% Vol
spirits | Moutai | 500ml=25900; 500ml x 2=49900
    Prince Liquor 53% Vol; 1935 53% Vol @460
spirits | Wuliangye | 500ml=109900; 250ml=56900
    Puwu 52% Vol; Wuliangchun 45% Vol @28
spirits | Luzhou Laojiao | 500ml=109900; 375ml=84900
    Guojiao 1573 52% Vol; Tequ 52% Vol @19; Touqu 52% Vol @12
spirits | Fenjiu | 500ml=42900
    Qinghua 20 53% Vol; Qinghua 30 53% Vol @230; Yellow Cap Glass Fen 42% Vol @13
spirits | Yanghe | 480ml=16900; 480ml x 6=96900
    Haizhilan 52% Vol; Tianzhilan 52% Vol @160; Mengzhilan M6+ 52% Vol @360
spirits | Niulanshan | 100ml=590; 500ml=1690; 500ml x 12=18900
    Erguotou Chenniang 42% Vol; Erguotou Classic 56% Vol @70
spirits | Red Star | 150ml=690; 500ml=1590; 750ml=2290
    Erguotou 56% Vol; Blue Bottle Erguotou 43% Vol @150
spirits | Jiangxiaobai | 100ml=2000; 300ml=4990; 750ml=9990
    Expression Bottle 40% Vol; Peach Fruit Liqueur 15% Vol @90
wine | Changyu | 750ml=6900; 750ml x 6=38900; 375ml=3990
    Cabernet Sauvignon Dry Red; Chardonnay Dry White; Noble Dragon Dry Red @180; Golden Ice Wine @320
wine | Great Wall | 750ml=5900; 750ml x 6=32900; 375ml=3290
    Cabernet Sauvignon; Merlot; Five-Star Dry Red @220; Sparkling Wine @110
nuts | Three Squirrels | 160g=2490; 500g=6990; 1kg=12990; 25g x 30 gift box=9990
    Daily Nuts; Macadamia Nuts; Pecans; Pistachios; Cashews; Dried Mango @70; Beef Jerky @130; Spicy Duck Neck @80
nuts | Bestore | 160g=2490; 500g=6990; 1kg=12990; 25g x 30 gift box=9990
    Daily Nuts; Pork Jerky @130; Walnuts; Almonds; Dried Strawberries @80; Spicy Konjac @50; Sunflower Seeds @40
nuts | Qiaqia | 160g=790; 308g=1390; 500g=1990
    Spiced Sunflower Seeds; Caramel Sunflower Seeds; Hickory Sunflower Seeds; Daily Nuts @250
nuts | Blue Diamond | 150g=2990; 400g=6990
    Roasted Salted Almonds; Smokehouse Almonds; Honey Roasted Almonds
biscuits | Oreo | 97g=650; 194g=1190; 388g=1990; 776g=3590
    Original; Chocolate Creme; Strawberry Creme; Golden; Thins Tiramisu @120; Double Stuf @110; Matcha Creme
biscuits | Want Want | 84g=590; 150g=990; 520g gift pack=3990
    Senbei Rice Crackers; Xuebing Snow Crackers; Fried Rice Crackers; Mini Rice Cakes
biscuits | Glico | 55g=890; 55g x 5=3990
    Pocky Chocolate; Pocky Strawberry; Pocky Matcha; Pretz Salad; Pretz Tomato
biscuits | Garden | 200g=890; 400g=1490
    Saltine Crackers; Cream Crackers; Chocolate Wafers
chips | Lay's | 40g=450; 70g=790; 135g=1290; 200g family pack=1990
    Original; Cucumber; Tomato; Spicy Crayfish; Grilled Steak; Sour Cream & Onion; Hot Pot; Lime; Wavy Original;
    Wavy Garlic Chicken
chips | Oishi | 40g=350; 80g=590; 150g=990
    Prawn Crackers; Onion Rings; Corn Puffs; Fish Snacks
chips | Weilong | 106g=590; 260g=1290; 30 packs=2990
    Spicy Gluten Strips; Konjac Shuang; Spicy Kelp
confectionery | Dove | 43g=890; 80g=1590; 252g bowl=4990; 12 pieces gift box=5990
    Silky Milk Chocolate; Dark Chocolate 66%; Hazelnut Milk Chocolate; Caramel Chocolate
confectionery | Hershey's | 43g=1290; 146g=3290
    Milk Chocolate Bar; Kisses Milk Chocolate; Cookies 'n' Creme
confectionery | Want Want | 70g=590; 20 packs=2290
    QQ Gummies Grape; QQ Gummies Peach; Milk Candy
confectionery | Alpenliebe | 150g=1290; 400g=2990; 40 pieces jar=3990
    Milk Candy; Strawberry Milk Candy; Assorted Lollipops
confectionery | White Rabbit | 114g=1190; 227g=1990; 500g=3990
    Creamy Candy; Red Bean Creamy Candy; Corn Creamy Candy
confectionery | Snickers | 51g=590; 20g x 20=3990
    Peanut; Almond @110
confectionery | Extra | 40 pellets=1190; 5 pellets x 10=1990
    Sugar-Free Peppermint Gum; Sugar-Free Watermelon Gum; Sugar-Free Blueberry Gum
rice | Arawana | 1kg=1290; 2.5kg=2690; 5kg=4990; 10kg=8990
    Jasmine Rice; Northeast Premium Rice; Golden Harvest Rice @90; Wuchang Rice @150
rice | Fortune | 1kg=1190; 2.5kg=2590; 5kg=4790; 10kg=8690
    Wuchang Daohuaxiang Rice @160; Northeast Rice; Thai Hom Mali Rice @140
rice | Shiyue Daotian | 1kg=1190; 2.5kg=2590; 5kg=4790
    Wuchang Rice @170; Panjin Crab Field Rice @120; Northeast Japonica Rice
grains | Shiyue Daotian | 400g=990; 1kg=1990; 2.5kg=4490
    Millet; Red Beans; Mung Beans; Black Rice; Quinoa @250; Rolled Oats
grains | Quaker | 400g=1490; 1kg=2990; 1.5kg=3990
    Instant Oats; Rolled Oats; Mixed Grain Oats @130
flour-noodles | Arawana | 1kg=890; 2.5kg=1990; 5kg=3690
    All-Purpose Wheat Flour; High-Gluten Bread Flour @130; Dumpling Flour; Wholewheat Flour @140
flour-noodles | Xiangxue | 1kg=850; 2.5kg=1890; 5kg=3490
    All-Purpose Flour; Dumpling Flour; Self-Raising Flour
flour-noodles | Chen Keming | 500g=590; 1kg=1090; 150g x 6=1390
    Egg Noodles; Fine Dried Noodles; Buckwheat Noodles @130; Spinach Noodles
flour-noodles | Jinshahe | 500g=490; 1kg=890; 150g x 6=1190
    Wheat Noodles; Knife-Cut Noodles; Egg Noodles
cooking-oil | Arawana | 900ml=2290; 1.8L=3990; 5L=8990
    Blended Oil 1:1:1; Peanut Oil @160; Rapeseed Oil @90; Corn Oil @110; Sunflower Oil @110; Rice Bran Oil @130;
    Sesame Oil @300
cooking-oil | Fortune | 900ml=2190; 1.8L=3890; 5L=8690
    Blended Oil; Peanut Oil @160; Soybean Oil @80; Corn Oil @110
cooking-oil | Luhua | 900ml=2290; 1.8L=3990; 5L=8990
    5S Pressed Peanut Oil @170; Sunflower Oil @120; Sesame Oil @300
soy-sauce | Haitian | 500ml=890; 1.28L=1590; 1.9L=2290
    Premium Light Soy Sauce; Golden Label Light Soy Sauce; Oyster-Flavoured Dark Soy Sauce;
    Zero-Additive Soy Sauce @160; Weijixian Soy Sauce @120; Reduced-Salt Light Soy Sauce @130
soy-sauce | Lee Kum Kee | 500ml=990; 1.29L=1990; 1.75L=2490
    Premium Light Soy Sauce; Premium Dark Soy Sauce; Seasoned Soy Sauce for Seafood @120;
    Double Deluxe Soy Sauce @150
soy-sauce | Chubang | 500ml=850; 1.25L=1590; 1.9L=2190
    Meiweixian Light Soy Sauce; Gold Label Soy Sauce; Dark Soy Sauce
soy-sauce | Qianhe | 500ml=890; 1L=1590; 1.8L=2590
    Zero-Additive Soy Sauce 180 Days @160; Zero-Additive Soy Sauce 380 Days @240; Premium Light Soy Sauce
vinegar | Hengshun | 500ml=590; 1L=990; 2L=1790
    Zhenjiang Aromatic Vinegar; 3-Year Aged Vinegar @160; 6-Year Aged Vinegar @260; Rice Vinegar; Dumpling Vinegar
vinegar | Donghu | 420ml=590; 800ml=990; 2.3L=2490
    Shanxi Mature Vinegar; 5-Year Aged Mature Vinegar @240
vinegar | Haitian | 450ml=490; 1.9L=1690
    Rice Vinegar; Apple Cider Vinegar @120
sauces | Lee Kum Kee | 255g=1290; 510g=1990; 907g=2990
    Premium Oyster Sauce; Panda Oyster Sauce @80; Hoisin Sauce; Chili Garlic Sauce; XO Sauce @400;
    Black Bean Garlic Sauce; Chiu Chow Chili Oil @120; Char Siu Sauce
sauces | Haitian | 260g=690; 530g=1190; 700g=1490
    Oyster Sauce; Sweet Bean Sauce; Yellow Bean Sauce; Seafood Sauce; Chicken Bouillon Powder @80
sauces | Lao Gan Ma | 210g=1090; 280g=1390; 210g x 3=2990
    Spicy Chili Crisp; Black Bean Chili Oil; Fermented Soybeans in Chili Oil; Chili Oil with Beef @130
sauces | Juancheng | 500g=1090; 1kg=1890
    Pixian Doubanjiang; Red Oil Doubanjiang
sauces | Totole | 200g=1090; 454g=1990; 1kg=3890
    Chicken Bouillon Powder; Fresh Chicken Essence @120; MSG @70
sauces | Haidilao | 150g=1290; 220g=1790; 500g=3490
    Spicy Hot Pot Base; Tomato Hot Pot Base; Mushroom Hot Pot Base; Beef Tallow Hot Pot Base @130;
    Pickled Fish Seasoning
sauces | McCormick | 30g=690; 70g=1290; 200g=2990
    Black Pepper; Chili Powder; Five-Spice Powder; Cumin Powder; Sichuan Pepper Powder; Curry Powder
sauces | Skippy | 340g=2690; 1.13kg=6990
    Creamy Peanut Butter; Chunky Peanut Butter
instant-noodles | Master Kong | single pack=350; 5 packs=1590; cup=550; 12 cups=5990; 24 packs=6990
    Braised Beef Noodles; Spicy Beef Noodles; Pickled Cabbage Beef Noodles; Tomato & Egg Noodles; Seafood Noodles;
    Mushroom Chicken Noodles; Premium Braised Beef Noodles @200; Beef Bone Broth Noodles @160
instant-noodles | Uni-President | single pack=350; 5 packs=1590; cup=550; 12 cups=5990; 24 packs=6990
    Laotan Pickled Cabbage Beef Noodles; Braised Beef Noodles; Spicy Chicken Noodles; Tomato Beef Noodles;
    Mandashi Premium Noodles @230
instant-noodles | Baixiang | single pack=300; 5 packs=1390; cup=490; 12 cups=5290; 24 packs=5990
    Braised Beef Noodles; Spicy Beef Noodles; Bone Broth Big Bowl @140; Pickled Pepper Beef Noodles
instant-noodles | Nissin | single=650; 4 pack=2390; 12 pack=6590
    Cup Noodles Seafood; Cup Noodles Original; Cup Noodles Curry; Demae Iccho Sesame @80; Demae Iccho Tonkotsu @80
instant-noodles | Akuan | 115g=450; 115g x 5=1990
    Sichuan Red Oil Noodles; Chongqing Xiaomian; Sweet Water Noodles
ready-meals | Haidilao | x 1=3990; x 3=10990
    Self-Heating Hot Pot Spicy Beef; Self-Heating Hot Pot Vegetarian @80; Self-Heating Rice Braised Pork @90
ready-meals | Mo Xiaoxian | x 1=2290; x 3=5990
    Self-Heating Rice Curry Beef; Self-Heating Rice Kung Pao Chicken; Self-Heating Hot Pot Tomato Beef @110
dumplings | Synear | 500g=1590; 1kg=2890; 1.5kg=3990
    Pork & Cabbage Dumplings; Pork & Corn Dumplings; Shrimp Dumplings @150; Black Sesame Tangyuan; Peanut Tangyuan;
    Pork Xiaolongbao @120
dumplings | Wanchai Ferry | 500g=1590; 1kg=2890; 1.5kg=3990
    Pork & Leek Dumplings @120; Shrimp Wontons @150; Pork & Cabbage Dumplings @110; Black Sesame Tangyuan
dumplings | Sanquan | 500g=1390; 1kg=2590; 1.5kg=3590
    Pork & Celery Dumplings; Pork & Mushroom Dumplings; Sticky Rice Shaomai; Spring Rolls; Scallion Pancakes @90;
    Mixed Tangyuan
dumplings | Anjoy | 250g=990; 500g=1790; 1kg=3190
    Fish Balls; Beef Balls @150; Fish Tofu; Crab Sticks; Hot Pot Combo @120
ice-cream | Yili | 75g=500; 75g x 6=2490
    Qiaolezi Chocolate; Changdi Vanilla @150; Bingzhu Strawberry; Xuenian Mochi @120
ice-cream | Mengniu | 70g=500; 70g x 6=2490
    Suibian Chocolate; Zhongjie 1946 @130; Green Tea Cone; Mango Sorbet @80
ice-cream | Zhong Xue Gao | 78g=1500; 78g x 6=7990
    Sea Salt Coconut; Dark Chocolate; Longjing Tea
hair-care | Clear | 200ml=2990; 400ml=4590; 720ml=6990; 1L refill=7990; 80ml travel size=990
    Men Cool Sport Shampoo; Women Ice Mint Shampoo; Anti-Hair Fall Shampoo; Ginseng Conditioner
hair-care | Head & Shoulders | 200ml=2890; 400ml=4490; 750ml=6990; 1L refill=7990; 80ml travel size=990
    Classic Clean Shampoo; Apple Fresh Shampoo; Lemon Oil Control Shampoo; Silky Smooth Shampoo;
    Men Ultra Shampoo @110
hair-care | Pantene | 200ml=2590; 400ml=3990; 750ml=5990; 1L refill=6990; 80ml travel size=990
    Daily Moisture Repair Shampoo; Anti-Hair Fall Shampoo; Micellar Detox Shampoo @110;
    3-Minute Miracle Conditioner @120
hair-care | Rejoice | 200ml=1990; 400ml=2990; 750ml=4590; 1L refill=5490; 80ml travel size=990
    Silky Smooth Shampoo; Volume Shampoo; Anti-Frizz Conditioner
hair-care | Lux | 200ml=2290; 400ml=3590; 750ml=4990; 1L refill=5990; 80ml travel size=990
    Soft & Smooth Shampoo; Damage Care Shampoo
hair-care | Adolph | 300ml=4990; 500ml=6990; 800ml=9990
    Ginger Anti-Hair Fall Shampoo; Amino Acid Shampoo @120; Repair Hair Mask @130
oral-care | Colgate | 120g=1290; 180g=1790; 120g x 3=3290
    Total Whitening Toothpaste; Optic White Toothpaste @130; Sensitive Pro-Relief Toothpaste @150;
    Herbal Salt Toothpaste; Fresh Mint Toothpaste
oral-care | Darlie | 120g=1290; 190g=1890; 120g x 3=3290
    Double Action Mint Toothpaste; All Shiny White Toothpaste @130; Tea Care Toothpaste @110;
    Expert White Toothpaste @150; Bamboo Charcoal Toothpaste
oral-care | Crest | 120g=1190; 180g=1690; 120g x 3=2990
    3D White Toothpaste @130; Cavity Protection Toothpaste; Pro-Health Gum Care Toothpaste @140;
    Baking Soda & Salt Toothpaste
oral-care | Colgate | x 1=990; x 4=2990
    Slim Soft Toothbrush; Charcoal Toothbrush; Kids Toothbrush @80
oral-care | Yunnan Baiyao | 100g=2990; 180g=4590; 100g x 3=7990
    Mint Toothpaste; Wintergreen Toothpaste; Gum Care Toothpaste @110
oral-care | Oral-B | x 1=1290; x 3=2990
    Soft Toothbrush; Cross Action Toothbrush @160; Kids Toothbrush
body-care | Safeguard | 100g=450; 100g x 3=1190; 100g x 6=2190
    Pure White Soap; Lemon Fresh Soap; Aloe Soap; Chamomile Soap
body-care | Safeguard | 400ml=2290; 720ml=3590; 1L=4590
    Pure White Body Wash; Lemon Fresh Body Wash; Aloe Body Wash
body-care | Lux | 400ml=2290; 720ml=3590; 1L=4590
    Flower Fusion Body Wash; Silky Skin Body Wash; Rose & Milk Body Wash
body-care | Olay | 400ml=2290; 720ml=3590; 1L=4590
    B3 Vitamin C Body Wash @180; Ultra Moisture Body Wash @150
body-care | Mentholatum | x 1=1990; x 2=3590
    Original Lip Balm; Mint Lip Balm; Men's Facial Cleanser @200
paper | Vinda | 3 packs=1290; 6 packs=2390; 12 packs=4290; 24 packs=7990
    3-Ply Facial Tissue; 4-Ply Toilet Roll; Super Tough Kitchen Roll; Pocket Tissues @40
paper | Hengan | 3 packs=1290; 6 packs=2390; 12 packs=4290; 24 packs=7990
    Facial Tissue; Toilet Roll; Wet Wipes @80; Tea-Scented Pocket Tissues @40
paper | Breeze | 3 packs=1190; 6 packs=2190; 12 packs=3990; 24 packs=7490
    Original Wood Facial Tissue; Toilet Roll; Kitchen Towel
paper | C&S | 3 packs=1190; 6 packs=2190; 12 packs=3990; 24 packs=7490
    Face Tissue; Lotion Soft Tissue @140; Toilet Roll
laundry | Blue Moon | 1kg=2990; 2kg=4990; 3kg=6990
    Deep Clean Laundry Liquid; Lavender Laundry Liquid; Hand-Wash Laundry Liquid; Concentrated Laundry Liquid @180;
    Baby Laundry Liquid @130
laundry | Liby | 1kg=2490; 2kg=4290; 3kg=5990
    Lavender Laundry Liquid; Laundry Powder @70; Laundry Pods @160; Fabric Softener
laundry | Tide | 1kg=2690; 2kg=4590; 3kg=6490
    Laundry Powder @70; Fresh Laundry Liquid; 3-in-1 Pods @200
laundry | OMO | 1kg=2590; 2kg=4490; 3kg=6290
    Clean & Fresh Laundry Liquid; Laundry Powder @70; Stain Remover @80
cleaning | Liby | 500g=690; 1.12kg=1290; 1.5kg=1690
    Lemon Dish Soap; Ginger Dish Soap; Fruit & Vegetable Wash
cleaning | Blue Moon | 500g=1290; 1kg=1990; 2kg=3490
    Toilet Cleaner; Glass Cleaner; Aloe Hand Wash @120
cleaning | Mr Muscle | 500g=1990; 960g=2990
    Kitchen Degreaser; Bathroom Cleaner; Drain Unblocker @130
cleaning | Walch | 525ml=2290; 1L=3990; 2L=6990
    Classic Hand Wash; Disinfectant Liquid @150; Laundry Sanitiser @140
formula | Feihe | 300g=13900; 700g=29900
    Xingfeifan Stage 1; Xingfeifan Stage 2; Xingfeifan Stage 3 @90; Zhuoyue Stage 3 @130
formula | Yili | 300g=12900; 800g=27900
    Jinlingguan Stage 1; Jinlingguan Stage 2; Jinlingguan Stage 3 @90; Jinlingguan Organic Stage 3 @130
formula | Junlebao | 400g=9900; 800g=18900
    Lepai Stage 1; Lepai Stage 2; Lepai Stage 3 @90
diapers | Pampers | 1 pack=12900; 3 packs=34900
    Ichiban Diapers S; Ichiban Diapers M; Ichiban Diapers L; Ichiban Diapers XL; Pull-Ups L; Pull-Ups XL
diapers | Huggies | 1 pack=11900; 3 packs=32900
    Platinum Diapers S; Platinum Diapers M; Platinum Diapers L; Platinum Diapers XL; Gold Pull-Ups L;
    Gold Pull-Ups XL
pet-food | Royal Canin | 2kg=17900; 4kg=31900
    Adult Cat Food; Kitten Food @110; Small Breed Adult Dog Food; Puppy Food @110
pet-food | Myfoodie | 1.5kg=6990; 3kg=12900
    Adult Cat Food; Chicken Jerky Dog Treats @60; Cat Treats Tuna @60
eggs | Deqingyuan | 10 pcs=1590; 20 pcs=2890; 30 pcs=3990
    Fresh Eggs; Free-Range Eggs @150; Omega-3 Eggs @140; Ready-to-Eat Raw Eggs @180
meat | Shuanghui | 40g x 10=1290; 60g x 10=1690
    Ham Sausage; Corn Sausage; Luncheon Meat @150
meat | Yurun | 400g=2290; 800g=4290
    Chilled Pork Belly @130; Chilled Pork Ribs @160; Chilled Pork Loin
meat | Fengxiang | 500g=1590; 1kg=2890
    Chicken Breast; Chicken Drumsticks; Chicken Wings @130; Sous-Vide Chicken Breast @150
seafood | Guolian | 250g=2990; 500g=4990
    Peeled Shrimp; Cooked Whiteleg Prawns; Spicy Crayfish Tails @120
fruit | Joyvio | 125g=1990; 125g x 4=6990
    Blueberries; Golden Kiwifruit @80
vegetables | Daily Fresh | 200g=590; 500g=1290
    Baby Spinach; Mixed Salad Leaves; Cherry Tomatoes; Enoki Mushrooms @60; Sweet Corn
bread | Toly | 200g=590; 400g=990; 600g=1390
    White Sandwich Bread; Whole Wheat Bread @120; Milk Toast; Coconut Bread; Red Bean Bread
bread | Mankattan | 250g=890; 400g=1290; 600g=1790
    Wholewheat Toast; Thick-Cut Toast; Milk Rolls; Butter Croissants @150
bread | Daily Fresh | 1 pc=590; 4 pcs=1990
    Baguette; Croissant @120; Pork Floss Bun; Egg Tart; Cheese Bun
pastries | Daoxiangcun | 200g=1990; 500g=3990
    Lotus Paste Mooncakes @200; Date Paste Pastry; Egg Sachima; Peach Crisps; Pastry Gift Box @400
pastries | Three Squirrels | 6 pcs=1990; 12 pcs=3490; 1kg=4990
    Lava Cheese Cake; Egg Yolk Pastry; Pork Floss Cake; Red Bean Mochi
pastries | Bestore | 6 pcs=1890; 12 pcs=3290; 1kg=4690
    Pork Floss Cake; Egg Yolk Pastry; Little Rolls
pastries | Orion | 6 pcs=1290; 12 pcs=2290; 20 pcs=3590
    Choco Pie; Custard Cake; Q-Yuan Marshmallow Pie
pastries | Dali Garden | 200g=890; 400g=1590; 1kg=3290
    Milk Soft Bread; French Croissant; Cream Egg Yolk Pie
"""

# Loose fresh food weighed at the counter, under the house brand, priced per kilogram. Each
# gets a 5-digit PLU code, numbered per category from PLU_BLOCKS in this order: the item code
# the scale prints into in-store variable-measure barcodes.
WEIGHED = """
fruit
    Fuji Apples (Yantai)=1380; Gala Apples=1180; Aksu Rock-Sugar Apples=1980; Korla Fragrant Pears=1580;
    Dangshan Pears=790; Bananas=790; Gannan Navel Oranges=1190; Wogan Mandarins=1590; Shatang Mandarins=1390;
    Guanxi Honey Pomelo=690; Kyoho Grapes=1590; Shine Muscat Grapes=3980; Hami Melon=990; 8424 Watermelon=590;
    Tainong Mangoes=1190; Red Dragon Fruit=1590; Xuxiang Kiwifruit=1790; Feizixiao Lychees=2980; Longans=1980;
    Chilean Cherries JJ=9800; Persimmons=990; Yellow Peaches=1190; Dandong Strawberries=3980; Monthong Durian=6980
vegetables
    Tomatoes=690; Cucumbers=590; Potatoes=390; Carrots=390; Chinese Cabbage=290; Bok Choy=590; Broccoli=990;
    Eggplant=690; Green Peppers=790; Onions=390; Garlic=1190; Ginger=1390; Lotus Root=990; Chinese Yam=1290;
    Winter Melon=290; Pumpkin=390; Spinach=790; Celery=590; Shiitake Mushrooms=1990; King Oyster Mushrooms=1290;
    Sweet Potatoes=490; Taro=790
meat
    Pork Belly=3580; Pork Loin=2980; Pork Spare Ribs=5580; Minced Pork=2580; Pork Trotters=3280; Beef Shank=8980;
    Beef Brisket=7980; Lamb Leg=8980; Three-Yellow Chicken (whole)=2980; Chicken Wings=4580; Chicken Drumsticks=2580;
    Duck (whole)=2580
seafood
    Live Grass Carp=2380; Live Crucian Carp=2980; Live Sea Bass=4980; Live Whiteleg Shrimp=8800; Hairtail=5980;
    Yellow Croaker=3980; Manila Clams=2380; Squid=4980; Live Crayfish=6980; Salmon Fillet=19800
"""
PLU_BLOCKS = {"fruit": 10001, "vegetables": 20001, "meat": 30001, "seafood": 40001}

# Demo shoppers: the name a sandbox login mints a code for, and their nickname.
SHOPPERS = (("li-na", "李娜"), ("wang-wei", "王伟"), ("zhang-min", "张敏"), ("liu-yang", "刘洋"), ("chen-jing", "陈静"))
